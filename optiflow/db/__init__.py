"""Database machinery shared by every entry point.

``backend``   the PostgreSQL backend (``ENGINE``): every statement carries its tenant schema and
              the request's time limits, so it runs right behind any connection pooler.
``timeouts``  the lock and statement timeouts of a request: the middleware that sets them and
              what a request that hits one answers.
``inserts``   ``bulk_insert``: the hot paths' new rows in one statement, without Django's
              value-by-value preparation.
``prefetch``  ``set_prefetched``: rows in hand (a service's new rows, a list page's includes)
              held as their parent's relation, as ``prefetch_related`` leaves them.
"""
