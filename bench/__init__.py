"""Benchmarks run by ``make bench``: one module per subject, each runnable on its own with
``.venv/bin/python -m bench.<name>`` (see ``bench/README.md``)."""
