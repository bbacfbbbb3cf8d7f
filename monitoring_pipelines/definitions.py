"""The code location: ``dagster dev`` from the repository root loads ``defs`` from here."""

from monitoring_pipelines.config import config_path, load_config
from monitoring_pipelines.defs.build import build_definitions

defs = build_definitions(load_config(), str(config_path()))
