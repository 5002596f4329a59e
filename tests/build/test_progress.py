import os

import pytest

from modelserve.build.progress import CommandFailed, Progress, wanted


def test_progress_on_a_terminal_only_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as terminal, os.fdopen(leader, "rb", buffering=0):
        monkeypatch.delenv("CI", raising=False)
        assert wanted(terminal)
        monkeypatch.setenv("CI", "true")
        assert not wanted(terminal)
        monkeypatch.setenv("CI", "false")
        assert wanted(terminal)


def test_a_failed_command_keeps_its_output(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stream = (tmp_path / "out").open("w")
    progress = Progress(stream, verbose=False)
    with pytest.raises(CommandFailed) as failed:
        progress.run(["sh", "-c", "echo one; echo two >&2; exit 3"])
    assert failed.value.returncode == 3 and failed.value.output == ["one", "two"]
    stream.close()
    assert (tmp_path / "out").read_text() == ""
