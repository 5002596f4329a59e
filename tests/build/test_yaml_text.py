import yaml

from modelserve.build.yaml_text import dump_all


def test_what_is_written_reads_back_the_same() -> None:
    documents = [
        {
            "kind": "Thing",
            "strings": ["true", "no", "1", "1.5", "", "a: b", "#x", "- y", "with space", "null", "~", "Ünï", "x\ny"],
            "numbers": [0, -3, 2.5],
            "flags": [True, False, None],
            "empty": {"list": [], "map": {}},
            "nested": [{"a": [{"b": 1, "c": [1, [2, 3]]}], "d": {"e": "f"}}, [{"g": 1}]],
            "prometheus.io/port": "6000",
        },
        {"second": "document"},
    ]
    text = dump_all(documents)
    assert list(yaml.safe_load_all(text)) == documents
    assert "  - name: x\n" not in text and text.startswith("---\nkind: Thing\n")
