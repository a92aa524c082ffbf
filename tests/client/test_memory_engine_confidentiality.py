"""What the engine writes (turns, facts, links, summary, persona) is sealed: no plaintext
on disk."""

from __future__ import annotations

from pathlib import Path

from tests.client.store_writer import spawn_script

MARKER = "ocelot-basalt-4417"
# Runs in its own process with TMPDIR inside the test folder, so temporary files that
# SQLite, onnxruntime or Python create are searched as well.
WRITER = f"""
import sys
from pathlib import Path
from client.embedding import OnnxEmbedder
from client.memory_engine import AppProfile, EngineConfig, MemoryEngine
from client.profile import Profile
from tests.conftest import PASSPHRASE, fast_kdf
profile = Profile.create(Path(sys.argv[1]), PASSPHRASE, kdf=fast_kdf())
engine = MemoryEngine(profile, OnnxEmbedder(Path(sys.argv[2])),
                      config=EngineConfig(persona_every_k_sessions=1))
for line in ["I moved to {MARKER} city last week.", "My dog {MARKER} loves the beach.",
             "I work as a {MARKER} engineer in town."]:
    engine.add_turn("s1", line)
engine.end_session("s1")
prompt, _ = engine.build_prompt("Tell me about {MARKER}", AppProfile(role="assistant"))
assert any("{MARKER}" in line for line in prompt.section("memories").lines)
assert "{MARKER}" in str(profile.persona.profile())
print("written", flush=True)
sys.stdin.readline()  # keep the store open: the WAL still holds the writes
profile.close()
"""


def test_engine_writes_no_plaintext_memory_to_disk(tmp_path: Path, export: Path) -> None:
    store = tmp_path / "device" / "user.fpstore"
    temp = tmp_path / "tmp"
    temp.mkdir()
    writer = spawn_script(WRITER, [str(store), str(export)], temp)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "written"
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") and p.stat().st_size > 0 for p in files)
    contents = [p.read_bytes() for p in files]
    writer.communicate("\n", timeout=120)
    assert writer.returncode == 0
    contents += [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]

    needles = [MARKER.encode(), MARKER.encode("utf-16-le"), MARKER.lower().encode()]
    for content in contents:
        for needle in needles:
            assert needle not in content
    # Control: the search finds the marker when it is there.
    (tmp_path / "control.txt").write_text(f"I moved to {MARKER} city")
    assert any(needles[0] in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
