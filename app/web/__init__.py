"""What the back office and the extranet share: the transaction boundary of a request's
writes, downloads streamed under the tenant, list pages and their CSV exports, a record's
files and history. Faces import this package; it imports no face."""
