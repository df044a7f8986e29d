"""A staff member using the admin through its real URLs, as a browser would: signs in on the
login page, and submits each form with every value the page holds (hidden inputs, inline
management forms, the CSRF token) plus the changes a person makes. The client enforces CSRF
checks, so a form posted without the page's token would be refused."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

from django.contrib.messages import get_messages
from django.test import Client


class FormReader(HTMLParser):
    """The values a browser would submit from the page's last form (on admin pages, the
    change form after the search and logout forms), with the inputs placed elsewhere that
    name it in their ``form`` attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, list[str]]]] = []
        self.elsewhere: dict[str, dict[str, list[str]]] = {}
        self.select: list[str] | None = None
        self.textarea: list[str] | None = None

    @property
    def values(self) -> dict[str, list[str]]:
        if not self.forms:
            return {}
        form_id, values = self.forms[-1]
        return {**values, **self.elsewhere.get(form_id, {})}

    def field(self, attr: dict[str, str], name: str) -> list[str]:
        if "form" in attr:
            target = self.elsewhere.setdefault(attr["form"], {})
        elif self.forms:
            target = self.forms[-1][1]
        else:
            target = {}
        return target.setdefault(name, [])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        name = attr.get("name")
        if tag == "form":
            self.forms.append((attr.get("id", ""), {}))
        elif tag == "input" and name and "disabled" not in attr:
            kind = attr.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attr:
                    self.field(attr, name).append(attr.get("value", "on"))
            elif kind not in ("submit", "button", "file"):
                self.field(attr, name).append(attr.get("value", ""))
        elif tag == "select" and name:
            self.select = self.field(attr, name)
        elif tag == "option" and self.select is not None and "selected" in attr:
            self.select.append(attr.get("value", ""))
        elif tag == "textarea" and name:
            self.textarea = self.field(attr, name)
            self.textarea.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            # Browsers drop the newline that follows <textarea>, as Django renders it.
            self.textarea[-1] = self.textarea[-1].removeprefix("\n")
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea[-1] += data


def form_values(html: str) -> dict[str, list[str]]:
    reader = FormReader()
    reader.feed(html)
    return reader.values


def csrf_token(response) -> str:
    """The token of the page's forms, as a browser posts it."""
    return form_values(response.content.decode())["csrfmiddlewaretoken"][0]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def page_text(response) -> str:
    """The page's visible text, tags dropped, entities decoded, whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


class AdminSession:
    def __init__(self, prefix: str, host: str | None = None) -> None:
        self.client = Client(enforce_csrf_checks=True)
        self.prefix = prefix
        self.headers = {"Host": host} if host else {}

    def url(self, path: str) -> str:
        return f"{self.prefix}{path}"

    def get(self, path: str, **params: Any):
        return self.client.get(self.url(path), params, headers=self.headers)

    def login(self, email: str, password: str) -> AdminSession:
        response = self.submit("/login/", {"username": email, "password": password})
        assert response.status_code == 302, page_text(response)
        assert response.url == self.url("/"), response.url  # the dashboard
        return self

    def submit(self, path: str, changes: dict[str, Any] | None = None, *, follow: bool = False):
        """Open ``path``, change its form (``None`` unticks or empties a field, a list sets
        every value of a multiple choice) and post it back to the same URL."""
        page = self.get(path)
        assert page.status_code == 200, page.status_code
        values = form_values(page.content.decode())
        for name, value in (changes or {}).items():
            if value is None:
                values.pop(name, None)
            else:
                values[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        return self.client.post(self.url(path), values, follow=follow, headers=self.headers)
