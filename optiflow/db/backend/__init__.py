"""``ENGINE = "optiflow.db.backend"``: see ``base.py``."""
