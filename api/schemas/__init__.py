"""Marshmallow schemas of the API: per resource, the resource, its update and its query args."""
