"""Listings read as the API's JSON, every page, each item readable by openstacksdk's names.

Why this exists: openstacksdk builds a ``Resource`` for each listed item,
which costs ~0.5 ms of CPU each (it walks every attribute of the class and
copies the body twice), and a bulk observation lists a few hundred items
(every project's security groups and quotas) of which it reads a few fields.
Here a listing is the API's answer as it came, through the same proxy (so
the same session, token, retries and connection pool), its errors raised by
openstacksdk's own ``raise_from_response`` (the same exceptions a listing
through the SDK raises), and its next pages followed as openstacksdk does:
the ``links`` of the body (Keystone's dict, Neutron's ``<key>_links`` list)
or a ``Link`` header.

:class:`Row` reads an item by the attribute names openstacksdk gives it
(``is_enabled`` for Keystone's ``enabled``, ``networks`` for Neutron's
``network`` quota), so code reading a listing reads either the same way; a
field the item lacks reads as ``None``, as a ``Resource``'s would.

:func:`one` reads a single resource the same way (a quota set, of which
three fields are read, costs ~1 ms of CPU as a ``Resource``).

What this module deliberately does not do: write (changes stay openstacksdk
calls, whose answers the steps keep as resources).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1.adapter import Adapter
from openstack import exceptions as os_exceptions

# openstacksdk's attribute names that differ from the API's field names, per kind.
PROJECT = {"is_enabled": "enabled"}
NETWORK_QUOTA = {
    "floating_ips": "floatingip",
    "networks": "network",
    "ports": "port",
    "routers": "router",
    "security_group_rules": "security_group_rule",
    "security_groups": "security_group",
    "subnets": "subnet",
}
_SAME: Mapping[str, str] = {}
# Each proxy's endpoint (version included), looked up once: keystoneauth looks
# it up in a deep copy of the service catalogue on every relative request.
_ENDPOINTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


class Row:
    """One listed item as the API answered it, read by openstacksdk's attribute names."""

    __slots__ = ("_fields", "_names")

    def __init__(self, fields: dict[str, Any], names: Mapping[str, str] = _SAME):
        self._fields = fields
        self._names = names

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._fields.get(self._names.get(name, name))

    def __repr__(self) -> str:
        return f"Row(id={self._fields.get('id')!r}, name={self._fields.get('name')!r})"


def rows(
    proxy: Any,
    path: str,
    key: str,
    params: Mapping[str, Any] | None = None,
    names: Mapping[str, str] = _SAME,
) -> list[Row]:
    """Every item of the listing ``path`` (its items under ``key``), all pages, as rows.

    ``params`` are the query (a list value repeats the parameter, as
    openstacksdk sends a filter by several projects).
    """
    found: list[Row] = []
    url: str | None = path
    query: dict[str, Any] = dict(params or {})
    while url:
        response = proxy.get(_absolute(proxy, url), params=query, headers=_JSON)
        os_exceptions.raise_from_response(response)
        body = response.json()
        items = body[key]
        found.extend(Row(item, names) for item in items)
        if not items:
            return found
        next_url, next_query = _next_page(body, key, response)
        if next_url is None:
            return found
        if next_query.get("marker") is not None and next_query.get("marker") == query.get("marker"):
            raise os_exceptions.SDKException("Endless pagination loop detected, aborting")
        url, query = next_url, next_query
    return found


def one(proxy: Any, path: str, key: str, names: Mapping[str, str] = _SAME) -> Row:
    """The resource at ``path`` (its fields under ``key``) as a row; its errors as openstacksdk's."""
    response = proxy.get(_absolute(proxy, path), headers=_JSON)
    os_exceptions.raise_from_response(response)
    return Row(response.json()[key], names)


_JSON = {"Accept": "application/json"}


def _absolute(proxy: Any, path: str) -> str:
    """``path`` under ``proxy``'s endpoint, a full URL (which keystoneauth sends as it is)."""
    if urlsplit(path).netloc:
        return path
    endpoint = _ENDPOINTS.get(proxy)
    if endpoint is None:
        # keystoneauth's own lookup: the identity proxy's ``get_endpoint`` is
        # openstacksdk's read of a Keystone endpoint record, another thing.
        endpoint = _ENDPOINTS[proxy] = Adapter.get_endpoint(proxy)
        if endpoint is None:
            raise ks_exceptions.EndpointNotFound()  # what keystoneauth raises for a request
    return f"{endpoint.rstrip('/')}/{path.lstrip('/')}"


def _next_page(body: Any, key: str, response: Any) -> tuple[str | None, dict[str, Any]]:
    """The next page's URL (without its query) and query, or ``(None, {})`` on the last page."""
    link = None
    links = body.get("links") if "links" in body else body.get(f"{key}_links")
    if isinstance(links, dict):  # Keystone: {"next": url or None, "self": ..., "previous": ...}
        link = links.get("next")
    else:  # Neutron, Nova: [{"rel": "next", "href": url}, ...]
        link = next(
            (item["href"] for item in links or () if item.get("rel") == "next" and "href" in item),
            None,
        )
    link = link or body.get("next")
    if not link and "next" in response.links:
        link = response.links["next"]["url"]
    if not link:
        return None, {}
    parts = urlsplit(link)
    query: dict[str, Any] = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query).items()}
    path = parts.path
    if not parts.netloc and path.startswith("/v"):
        # A path from the API's root (``/v2.0/networks``): the proxy's endpoint has the version.
        path = path[path.find("/", 1) :]
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")), query
