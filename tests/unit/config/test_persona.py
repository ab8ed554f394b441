"""The persona: Yollayah's packaged system prompt, and the setting that replaces it."""

from __future__ import annotations

import re

import attrs

from aiway.config import Settings, load_persona, packaged_persona


def test_packaged_persona_is_used_when_no_system_prompt_is_set() -> None:
    assert load_persona(Settings()) == packaged_persona()


def test_system_prompt_setting_replaces_the_persona() -> None:
    settings = attrs.evolve(Settings(), system_prompt="You are terse.")

    assert load_persona(settings) == "You are terse."


def test_empty_system_prompt_means_no_prompt() -> None:
    assert load_persona(attrs.evolve(Settings(), system_prompt="")) == ""


def test_persona_is_short_enough_for_a_tiny_model() -> None:
    assert len(packaged_persona().split()) <= 250


def test_persona_introduces_yollayah_and_says_tags_are_invisible() -> None:
    persona = packaged_persona()

    assert "Yollayah" in persona
    assert "axolotl" in persona
    assert "never see" in persona


def test_persona_teaches_the_tag_vocabulary() -> None:
    persona = packaged_persona()

    for tag in (
        "[yolla:wave]",
        "[yolla:mood happy]",
        "[yolla:react tada]",
        '[yolla:task start backend-engineer "Design the schema"]',
        "[yolla:task done t1]",
    ):
        assert tag in persona


def test_every_tag_in_the_persona_is_well_formed() -> None:
    tags = re.findall(r"\[yolla:[^\]]*\]", packaged_persona())

    assert tags
    assert all(re.fullmatch(r"\[yolla:[a-z]+( [^\[\]]+)?\]", tag) for tag in tags)
