"""The one entry point: `gunicorn wsgi:app` and the flask CLI."""
import gc

from app import create_app

# Building the app makes some 150,000 objects that live as long as the process (models, routes,
# schemas): the cyclic garbage collector would scan them again and again while they are made,
# a tenth of the start-up of every command. It waits until the app is built, then leaves them
# out of its scans for good (gc.freeze: Python's documented recipe for pre-fork servers, whose
# workers then also keep sharing those pages with the master).
gc.disable()
app = create_app()
gc.freeze()
gc.enable()
