"""What the agent may call: `run_tests`, `run_python`, `submit`, each a small typed
function with the JSON schema used for tool calling."""

from tools.calls import TOOL_SCHEMAS, run_python, run_tests, checks_job
from tools.visible_tests import extract_visible_tests

__all__ = ["TOOL_SCHEMAS", "extract_visible_tests", "run_python", "run_tests", "checks_job"]
