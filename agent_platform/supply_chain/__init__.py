"""Package reality: every dependency checked against its registry and advisories.

Public API (the rest is internal)::

    verify_lockfile(path, ecosystem, config=None, *, root=None, now=None) -> VerificationRun
    PackageVerifier(config, *, root=None, transport=None)
    RegistryClient(config=None, *, cache_dir=None, cache_ttl_s=86400.0, transport=None)
        .exists(ecosystem, name) -> bool | None      (None: the registry could not be asked)
    parse_lockfile(path, ecosystem) -> list[LockedPackage]
    write_report(runs, output, missing) -> (markdown_path, json_path)
"""

from agent_platform.supply_chain.lockfiles import parse_lockfile
from agent_platform.supply_chain.model import (
    Advisory,
    AdvisoryCheck,
    Finding,
    LockedPackage,
    PackageResult,
    RegistryAnswer,
    ReleaseInfo,
    SourceInfo,
    VerificationRun,
)
from agent_platform.supply_chain.registry import RegistryClient
from agent_platform.supply_chain.report import javascript_note, write_report
from agent_platform.supply_chain.verify import (
    PackageVerifier,
    load_supply_chain_config,
    verify_lockfile,
)

__all__ = [
    "Advisory",
    "AdvisoryCheck",
    "Finding",
    "LockedPackage",
    "PackageResult",
    "PackageVerifier",
    "RegistryAnswer",
    "RegistryClient",
    "ReleaseInfo",
    "SourceInfo",
    "VerificationRun",
    "javascript_note",
    "load_supply_chain_config",
    "parse_lockfile",
    "verify_lockfile",
    "write_report",
]
