# The README's two commands: `make run` and `make test`. Both work on a machine with only
# Python 3.11: they create .venv, install requirements.txt, and use the embedded PostgreSQL
# (pgserver, data in .local/pgdata) unless DATABASE_URL is set.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WEB_CONCURRENCY ?= 2
# Task-queue worker processes `make run` starts, and the jobs each runs at once.
WORKERS ?= 1
WORKER_CONCURRENCY ?= 8
FUZZ_EXAMPLES ?= 300
# Benchmark modules run by `make bench` (bench/<name>.py); `make bench BENCHES=api` runs one.
BENCHES ?= api pdf tenants webhooks server cursor floor

# A per-checkout secret key, generated once, unless the environment provides one.
DJANGO_SECRET_KEY ?= $(shell cat .local/secret_key 2>/dev/null || (mkdir -p .local && $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" | tee .local/secret_key))
export DJANGO_SECRET_KEY

.PHONY: install run stop reset test lint bench fuzz pdf-preview

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

# The web server and the task-queue workers (Procfile) under honcho: one command, and one
# Ctrl-C stops them all. Plain HTTP on loopback: cookies cannot be Secure there, or the admin
# could not log in.
run: install
	$(BIN)/python manage.py migrate_schemas --verbosity 0
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	PATH="$(CURDIR)/$(BIN):$$PATH" DJANGO_SECURE_COOKIES=0 WEB_CONCURRENCY=$(WEB_CONCURRENCY) \
		WORKER_CONCURRENCY=$(WORKER_CONCURRENCY) $(BIN)/honcho start --port $(PORT) \
		--concurrency worker=$(WORKERS)

# `make run` leaves the embedded PostgreSQL running for the next command; this stops it.
stop: install
	@$(BIN)/python -c "from optiflow.embedded_db import embedded_database_stop as stop; \
		print('Embedded PostgreSQL stopped.' if stop() else 'Embedded PostgreSQL was not running.')"

# Back to a fresh checkout's state: no database (the next `make run` provisions the demo again).
reset: stop
	rm -rf .local/pgdata staticfiles

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	for name in $(BENCHES); do $(BIN)/python -m bench.$$name || exit 1; done

# The long schemathesis run (make test runs a bounded one): more examples per operation, a
# fresh random seed each time, and the report printed (tests/fuzz/test_schemathesis.py).
fuzz: install
	OPTIFLOW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) OPTIFLOW_FUZZ_SEED=random $(BIN)/pytest tests/fuzz -s

# Page 1 of the demo tenant's partly paid invoice as a picture (pypdfium2), to look at what a
# customer receives: .local/demo-invoice.png (tests/billing/test_pdf_preview.py).
pdf-preview: install
	OPTIFLOW_PDF_PREVIEW=$(CURDIR)/.local/demo-invoice.png $(BIN)/pytest -q tests/billing/test_pdf_preview.py
	@echo "Page 1 of the demo invoice: .local/demo-invoice.png"
