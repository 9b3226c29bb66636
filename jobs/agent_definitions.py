"""A code location with only the agent-run job and the inbox sensor.

``jobs.definitions`` holds them too (with every evidence asset): the UI on ``workspace.yaml``
shows everything. This smaller location is what a worker that only runs agent tasks loads
(``deploy/workspace_agent_runs.yaml``, the daemon test, the scale benchmark): each run's
process imports the code location, and the evidence assets and their contract cost seconds of
CPU per run that an agent task does not use.
"""

import os

from dagster import Definitions, EnvVar

from agent_platform.config import DATABASE_URL_ENV
from jobs.agent_run import agent_run
from jobs.inbox_sensor import build_inbox_sensor
from jobs.resources import DatabaseResource

__all__ = ["defs"]

defs = Definitions(
    jobs=[agent_run],
    sensors=[build_inbox_sensor()],
    resources={
        "database": DatabaseResource(
            url=EnvVar(DATABASE_URL_ENV) if DATABASE_URL_ENV in os.environ else ""
        )
    },
)
