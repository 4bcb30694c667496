"""The built-in GRPO rewards against hand-made completions, the maths checker on equivalent forms, the
weighted set TRL calls, and the user's own reward file (and when it is refused)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from engine.access.code import POLICY
from engine.config.train_config import TrainConfig
from engine.errors import CodeNotAllowed, ConfigError
from engine.rewards import builtin
from engine.rewards.builtin import RewardSettings
from engine.rewards.mathcheck import final_answer, math_equal
from engine.rewards.reward_set import RewardSet
from engine.rewards.spec import parse_spec

EXAMPLE = Path(__file__).resolve().parent.parent / "samples" / "eval" / "rewards_example.py"


@pytest.mark.parametrize(("completion", "reference", "equal"), [
    ("The answer is 0.5", "1/2", True),
    ("so we get \\boxed{\\frac{1}{2}}", "0.5", True),
    ("<think>3 apples + 4</think><answer>7</answer>", "7.0", True),
    ("Half of 10 is 5, and 5 + 5 = 10", "10", True),
    ("答案是 12", "12", True),
    ("1/3", "0.33", False),
    ("The answer is 8", "7", False),
    ("I do not know", "7", False),
])
def test_maths_checker_compares_by_value(completion, reference, equal):
    assert math_equal(completion, reference) is equal


def test_maths_checker_works_on_a_worker_thread():
    # training runs on a worker thread, where signal-based timeouts cannot be used
    results = []
    thread = threading.Thread(target=lambda: results.append(math_equal("x = 0.25", "1/4")))
    thread.start()
    thread.join(30)
    assert results == [True]


def test_final_answer_prefers_explicit_markers():
    assert final_answer("first 3, then <answer>42</answer> and 7") == "42"
    assert final_answer("The answer is: Paris.") == "Paris"
    assert final_answer("2 plus 2 makes 4") == "4"


@pytest.mark.parametrize(("mode", "completion", "reference", "score"), [
    ("exact", "Paris", "Paris", 1.0),
    ("exact", "paris.", "Paris", 0.0),
    ("normalized", "  PARIS! ", "paris", 1.0),
    ("normalized", "The answer is: Ｐａｒｉｓ", "Paris", 1.0),
    ("normalized", "London", "Paris", 0.0),
    ("auto", "I think it is 1/2", "0.5", 1.0),
    ("auto", "Paris.", "paris", 1.0),
    ("math", "0.50", "1/2", 1.0),
])
def test_answer_match_modes(mode, completion, reference, score):
    assert builtin.answer_match(completion, reference, RewardSettings(answer_mode=mode)) == score


def test_answer_match_without_reference_scores_zero():
    assert builtin.answer_match("7", None, RewardSettings()) == 0.0


def test_format_reward_default_pattern_wants_think_then_answer():
    import re

    pattern = re.compile(TrainConfig().reward_format_pattern)
    assert builtin.follows_format("<think>2+2 is 4</think> The answer is 4.", pattern) == 1.0
    assert builtin.follows_format("<think>unfinished thoughts", pattern) == 0.0
    assert builtin.follows_format("<think>only thinking</think>   ", pattern) == 0.0
    assert builtin.follows_format("The answer is 4.", pattern) == 0.0


def test_words_count_english_and_chinese():
    assert builtin.count_words("It's a well-known fact: 3 cats.") == 6
    assert builtin.count_words("天空是蓝色的") == 6
    assert builtin.count_words("GPU 很快") == 3


def test_length_reward_peaks_at_the_target():
    assert builtin.length_near("one two three four", 4) == 1.0
    assert builtin.length_near("one two", 4) == 0.5
    assert builtin.length_near(" ".join(["w"] * 8), 4) == 0.5
    assert builtin.length_near(" ".join(["w"] * 40), 4) == 0.1  # far too long still ranks below too long
    assert builtin.length_near("", 4) == 0.0


def test_contains_and_avoid():
    assert builtin.contains("TuneBot made by TuneDesk", ("tunebot", "tunedesk")) == 1.0
    assert builtin.contains("TuneBot here", ("tunebot", "tunedesk")) == 0.5
    assert builtin.avoids("As an AI language model, I", ("as an ai", "sorry")) == 0.5
    assert builtin.avoids("Sure, here it is", ("as an ai", "sorry")) == 1.0


def test_spec_parsing():
    assert parse_spec("answer_match:1, format:0.5") == [("answer_match", 1.0), ("format", 0.5)]
    assert parse_spec("length") == [("length", 1.0)]
    with pytest.raises(ConfigError, match="listed twice"):
        parse_spec("length:1, length:2")


def grpo_config(**kw) -> TrainConfig:
    return TrainConfig.from_dict({"method": "grpo", "per_device_train_batch_size": 8, **kw})


def test_reward_set_scores_named_functions_and_weights_the_total():
    rewards = RewardSet(grpo_config(reward_functions="answer_match:1, length:0.5", reward_target_length=2))
    # "Paris" is 1 word (ratio 1/2), "It is Rome" 3 words (ratio 2/3)
    assert [f.__name__ for f in rewards.funcs] == ["answer_match", "length"]  # TRL charts rewards/<name>
    completions = [[{"role": "assistant", "content": "Paris"}], [{"role": "assistant", "content": "It is Rome"}]]
    prompts = [[{"role": "user", "content": "Capital of France?"}]] * 2
    match = rewards.funcs[0](prompts, completions, reference=["Paris", "Paris"])
    length = rewards.funcs[1](prompts, completions, reference=["Paris", "Paris"])
    assert match == [1.0, 0.0] and length == pytest.approx([0.5, 2 / 3])
    assert rewards.total({"answer_match": match, "length": length}) == pytest.approx([1.25, 1 / 3])
    lines = rewards.sample_lines(2)
    assert lines[0].startswith("  [1.25: answer_match 1.00, length 0.50] 'Capital of France?' → 'Paris'")


def test_user_reward_file_is_loaded_and_called_with_text():
    rewards = RewardSet(grpo_config(reward_functions="python:2", reward_file=str(EXAMPLE)))
    assert rewards.names == ["reward_polite", "reward_no_shouting"] and rewards.weights == [2.0, 2.0]
    scores = rewards.funcs[0]([["p"], ["p"]], [[{"role": "assistant", "content": "Glad to help!"}],
                                               [{"role": "assistant", "content": "NO."}]])
    assert scores == [1.0, 0.0]
    assert rewards.funcs[1]([["p"]], ["NO."]) == [0.0]


def test_user_reward_errors_name_the_function(tmp_path):
    bad = tmp_path / "bad_rewards.py"
    bad.write_text("def reward_short(prompts, completions, **kw):\n    return [1.0]\n")
    rewards = RewardSet(grpo_config(reward_functions="python:1", reward_file=str(bad)))
    with pytest.raises(ConfigError, match="reward_short returned 1 scores for 2 completions"):
        rewards.funcs[0](["a", "b"], ["x", "y"])
    empty = tmp_path / "nothing.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ConfigError, match="defines no function whose name starts with 'reward'"):
        RewardSet(grpo_config(reward_functions="python:1", reward_file=str(empty)))


def test_user_reward_file_refused_when_the_app_is_exposed(tmp_path):
    marker = tmp_path / "imported"
    evil = tmp_path / "rewards.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('ran')\ndef reward_x(prompts, completions, **kw):\n"
                    "    return [0.0] * len(completions)\n")
    saved = (POLICY.exposed, POLICY.allow_code)
    try:
        POLICY.exposed, POLICY.allow_code = True, False
        with pytest.raises(CodeNotAllowed, match="--allow-code"):
            RewardSet(grpo_config(reward_functions="python:1", reward_file=str(evil)))
        assert not marker.exists()  # refused before the file was imported
        POLICY.allow_code = True
        RewardSet(grpo_config(reward_functions="python:1", reward_file=str(evil)))
        assert marker.exists()
    finally:
        POLICY.exposed, POLICY.allow_code = saved


def test_reward_file_is_never_imported_unless_python_is_listed(tmp_path):
    marker = tmp_path / "imported"
    evil = tmp_path / "rewards.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    with pytest.raises(ConfigError, match="reward_file is set but reward_functions does not list python"):
        grpo_config(reward_functions="length:1", reward_file=str(evil))
    assert not marker.exists()
