import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.errors import IdentityError, StoreInUse
from engine.identity import Identity, import_key, key_path
from engine.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_identity_is_created_on_first_use_with_mode_0600(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        npub = s.identity.npub
    assert npub.startswith("npub1")
    assert stat.S_IMODE(key_path(tmp_path).stat().st_mode) == 0o600
    with Store.open(tmp_path) as s:
        assert s.identity.npub == npub


def test_importing_a_different_key_refuses_to_overwrite_silently(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        original = s.identity.pubkey
    other = Identity.generate()
    with pytest.raises(IdentityError, match="--force"):
        import_key(tmp_path, other.nsec)
    with Store.open(tmp_path) as s:
        assert s.identity.pubkey == original
    assert import_key(tmp_path, other.nsec, force=True).pubkey == other.pubkey


def test_a_bad_key_gets_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="not a valid secret key"):
        import_key(tmp_path, "nsec1notakey")


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    os.chmod(key_path(tmp_path), 0o644)
    with pytest.raises(IdentityError, match="chmod 600"):
        Store.open(tmp_path)


def test_home_precedence_flag_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.paths import resolve_home

    monkeypatch.setenv("KOBOLD_HOME", str(tmp_path / "env"))
    assert resolve_home(None) == tmp_path / "env"
    assert resolve_home(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("KOBOLD_HOME")
    assert "kobold" in str(resolve_home(None))


def test_a_second_process_gets_a_clear_message_naming_the_other_use(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from engine.store import Store
            s = Store.open({str(tmp_path)!r})
            print("open", flush=True)
            sys.stdin.readline()
        """)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreInUse, match=rf"in use by kobold \(pid {holder.pid}"):
            Store.open(tmp_path)
    finally:
        holder.communicate("\n", timeout=10)
    Store.open(tmp_path).close()
