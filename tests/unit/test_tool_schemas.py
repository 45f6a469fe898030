"""The tool-calling schemas are generated from the tools' typed arguments and say what
the hand-written ones said."""

from tools.calls import TOOL_SCHEMAS, TOOLS, tool_schema


def test_schemas_come_from_the_typed_arguments():
    assert [s["function"]["name"] for s in TOOL_SCHEMAS] == ["run_tests", "run_python", "submit"]
    assert tool_schema("run_tests")["function"]["parameters"] == {
        "type": "object", "required": ["code"],
        "properties": {"code": {"type": "string", "description": "the complete Python function, with its imports"}},
    }
    for name in ("run_python", "submit"):
        assert tool_schema(name)["function"]["parameters"] == {
            "type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}
    assert "title" not in str(TOOL_SCHEMAS)


def test_every_tool_has_a_description():
    assert all(description.endswith(".") for description, _ in TOOLS.values())
