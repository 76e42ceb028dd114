"""A passphrase on the secret key (NIP-49): asked once per session, three tries, KOBOLD_PASSPHRASE for scripts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import key_protection
from engine.errors import IdentityError
from engine.identity import key_path
from engine.key_protection import WrongPassphrase
from engine.store import Store
from kobold_tui.cli import main


@pytest.fixture(autouse=True)
def _fresh_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(key_protection, "_session", {})
    monkeypatch.delenv(key_protection.ENV, raising=False)


def _protected(tmp_path: Path, passphrase: str = "correct horse") -> tuple[Path, str]:
    home = tmp_path / "home"
    with Store.open(home) as s:
        npub = s.identity.npub
        key_protection.protect(home, s.identity, passphrase)
    key_protection._session.clear()  # a new session
    return home, npub


def test_a_protected_key_file_holds_no_plain_secret_and_stays_0600(tmp_path: Path) -> None:
    home, _ = _protected(tmp_path)
    text = key_path(home).read_text()
    assert text.startswith("ncryptsec1") and "nsec1" not in text
    assert oct(os.stat(key_path(home)).st_mode & 0o777) == "0o600"


def test_the_passphrase_is_asked_once_per_session(tmp_path: Path) -> None:
    home, npub = _protected(tmp_path)
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return "correct horse"

    ident = key_protection.unlock(home, answer, print)
    assert ident is not None and ident.npub == npub
    with Store.open(home) as s:  # no second question
        assert s.identity.npub == npub
    key_protection.unlock(home, answer, print)
    assert len(asked) == 1


def test_three_wrong_passphrases_fail_clearly(tmp_path: Path) -> None:
    home, _ = _protected(tmp_path)
    told: list[str] = []
    with pytest.raises(WrongPassphrase, match="3 wrong passphrases; the key stays locked"):
        key_protection.unlock(home, lambda _: "wrong", told.append)
    assert told == ["Wrong passphrase; 2 tries left.", "Wrong passphrase; 1 try left."]
    with pytest.raises(IdentityError, match="protected by a passphrase"):
        Store.open(home)


def test_a_right_passphrase_on_the_second_try_unlocks(tmp_path: Path) -> None:
    home, npub = _protected(tmp_path)
    answers = iter(["wrong", "correct horse"])
    ident = key_protection.unlock(home, lambda _: next(answers), lambda _: None)
    assert ident is not None and ident.npub == npub


def test_scripts_use_the_environment_and_a_wrong_value_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home, npub = _protected(tmp_path)
    monkeypatch.setenv(key_protection.ENV, "nope")
    assert main(["id", "--home", str(home), "--json"]) == 1
    assert "KOBOLD_PASSPHRASE does not unlock the secret key" in capsys.readouterr().err
    monkeypatch.setenv(key_protection.ENV, "correct horse")
    assert main(["id", "--home", str(home), "--json"]) == 0
    assert npub in capsys.readouterr().out


def test_id_protect_and_unprotect_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "h"
    monkeypatch.setenv("NEW_PASS", "s3cret")
    assert main(["id", "protect", "--passphrase-env", "NEW_PASS", "--home", str(home), "--json"]) == 0
    assert key_protection.is_protected(home)
    key_protection._session.clear()
    monkeypatch.setenv(key_protection.ENV, "s3cret")
    assert main(["id", "export", "--yes", "--home", str(home), "--json"]) == 0
    assert '"nsec": "nsec1' in capsys.readouterr().out
    assert main(["id", "protect", "--passphrase-env", "NEW_PASS", "--home", str(home)]) == 1
    assert "already protected" in capsys.readouterr().err
    assert main(["id", "unprotect", "--home", str(home)]) == 0
    assert key_path(home).read_text().startswith("nsec1")


def test_a_readable_plain_key_is_refused_and_a_readable_protected_one_warned_about(tmp_path: Path) -> None:
    home = tmp_path / "h"
    with Store.open(home):
        pass
    os.chmod(key_path(home), 0o644)
    with pytest.raises(IdentityError, match="readable by others"):
        Store.open(home)
    os.chmod(key_path(home), 0o600)
    home2, _ = _protected(tmp_path)
    os.chmod(key_path(home2), 0o644)
    warning = key_protection.permission_warning(home2)
    assert warning is not None and "chmod 600" in warning


def test_importing_a_key_over_a_protected_one_says_the_new_one_has_no_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from engine.identity import Identity

    home, _ = _protected(tmp_path)
    monkeypatch.setenv(key_protection.ENV, "correct horse")
    other = Identity.generate()
    capsys.readouterr()
    assert main(["id", "import", other.nsec, "--force", "--home", str(home), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hex"] == other.pubkey and "kobold id protect" in out["note"]
    assert not key_protection.is_protected(home)
