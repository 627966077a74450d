"""The SFTP inbox: one server process (or several, on nodes sharing the database and
FEED_STORAGE_DIR) serving every tenant's feed accounts (docs/feeds.md, "SFTP inbox").

- server.py: the listener, the host key and the SSH logins (passwords, public keys,
  throttled and audited);
- folder.py: what a login sees: its account's folder as "/", jailed, with the quota and the
  size limit; tells arrivals.py when a file is whole;
- arrivals.py: a whole file becomes an import run (source "sftp"), queued as a job; a run's
  results are written back to the account's outbox/;
- sweep.py: the periodic removal of cut uploads and forgotten temporary files.
"""
