"""The OSV API: ``/v1/querybatch`` (at most 1,000 queries a request) and ``/v1/vulns/ID``.

querybatch answers only ids; each distinct id is then fetched once for its severity and ranges.
A failed batch raises (the caller falls back to an offline source or fails closed); a failed
detail fetch keeps the advisory with an unknown severity, because its existence is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from agent_platform.errors import SupplyChainError
from agent_platform.supply_chain._http import request_json
from agent_platform.supply_chain.model import OSV_ECOSYSTEM, LockedPackage

__all__ = ["MAX_BATCH", "OsvClient"]

MAX_BATCH = 1000
_MAX_PAGES = 20


class OsvClient:
    """A small OSV API client over one pooled ``httpx.Client``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        retries: int,
        max_workers: int,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.max_workers = max_workers
        self._client = httpx.Client(
            timeout=timeout_s,
            transport=transport,
            limits=httpx.Limits(max_connections=max_workers),
            headers={"User-Agent": "agent-platform-verify/0.1"},
        )

    def close(self) -> None:
        self._client.close()

    def query(self, packages: Sequence[LockedPackage]) -> dict[tuple[str, str, str], list[str]]:
        """Advisory ids affecting each package; raises SupplyChainError when OSV cannot answer."""
        found: dict[tuple[str, str, str], list[str]] = {p.key: [] for p in packages}
        pending: list[tuple[LockedPackage, str | None]] = [(p, None) for p in packages]
        for _round in range(_MAX_PAGES):
            if not pending:
                return found
            follow: list[tuple[LockedPackage, str | None]] = []
            for start in range(0, len(pending), MAX_BATCH):
                chunk = pending[start : start + MAX_BATCH]
                results = self._batch(chunk)
                for (package, _token), result in zip(chunk, results, strict=True):
                    found[package.key].extend(str(v["id"]) for v in result.get("vulns") or [])
                    if result.get("next_page_token"):
                        follow.append((package, str(result["next_page_token"])))
            pending = follow
        raise SupplyChainError(f"OSV querybatch still paginating after {_MAX_PAGES} pages")

    def _batch(self, chunk: Sequence[tuple[LockedPackage, str | None]]) -> list[dict[str, Any]]:
        queries = [_query(p, token) for p, token in chunk]
        url = f"{self.base_url}/v1/querybatch"
        result = request_json(
            self._client, "POST", url, retries=self.retries, json_body={"queries": queries}
        )
        if not result.ok:
            raise SupplyChainError(f"OSV API unreachable: {result.error}")
        results = result.data.get("results") if isinstance(result.data, dict) else None
        if not isinstance(results, list) or len(results) != len(chunk):
            raise SupplyChainError(f"OSV querybatch at {url} answered an unexpected shape")
        return [r if isinstance(r, dict) else {} for r in results]

    def details(self, ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """The full record of each id (None where the fetch failed)."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(unique))) as pool:
            records = list(pool.map(self._detail, unique))
        return dict(zip(unique, records, strict=True))

    def _detail(self, vuln_id: str) -> dict[str, Any] | None:
        url = f"{self.base_url}/v1/vulns/{vuln_id}"
        result = request_json(self._client, "GET", url, retries=self.retries)
        return result.data if result.ok and isinstance(result.data, dict) else None


def _query(package: LockedPackage, token: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {
        "package": {"name": package.name, "ecosystem": OSV_ECOSYSTEM[package.ecosystem]},
        "version": package.version,
    }
    if token:
        query["page_token"] = token
    return query
