"""What BFCL's model handler does for an OpenAI-compatible model, as bfcl_v3.py runs it: the
function docs compiled as OpenAI tools, and the multi-turn inference loop.

The loop is BFCL's `BaseHandler.inference_multi_turn_FC` / `_prompting`: per user turn, the
model's calls run on BFCL's simulated APIs (exaone_eval.scoring.bfcl.ApiSession, which guards and
isolates them) and the results go back (one tool message per call in native style, one user
message in prompting style), step after step, until a reply has no decodable call; a turn that
reaches more than MAXIMUM_STEP_LIMIT (20) steps ends the episode there, its later turns never
asked; miss_func's held-back functions are added at the turn the data says, with BFCL's own user
text. The prompt, the verdicts and the summaries are bfcl_v3.py's.
"""

from __future__ import annotations

import copy

from exaone_eval.messages import assistant_message, tool_calls_of
from exaone_eval.scoring.bfcl import NATIVE, ApiSession, decode_execute
from exaone_eval.types import Episode, Item


def tools_of(functions: list[dict], category: str) -> list[dict]:
    """Native style: the docs as OpenAI tools, as BFCL's OpenAI-compatible FC handler compiles them.
    BFCL's language hints edit the docs in place (a multi-turn entry's docs get them again at
    every recompile, as in BFCL); the caller passes a list it owns."""
    from bfcl.model_handler.constant import GORILLA_TO_OPENAPI
    from bfcl.model_handler.model_style import ModelStyle
    from bfcl.model_handler.utils import convert_to_tool, func_doc_language_specific_pre_processing

    return convert_to_tool(func_doc_language_specific_pre_processing(functions, category), GORILLA_TO_OPENAPI, ModelStyle.OpenAI)


async def converse_multi_turn(item: Item, chat) -> Episode:
    """BFCL's multi-turn inference loop (see the module docstring), through the run's chat."""
    from bfcl.model_handler.constant import (
        DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC,
        DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_PROMPTING,
        MAXIMUM_STEP_LIMIT,
    )
    from bfcl.model_handler.utils import format_execution_results_prompting

    entry, style, category = item.reference["entry"], item.meta["style"], item.meta["category"]
    functions = copy.deepcopy(entry["function"])
    tools = tools_of(functions, category) if style == NATIVE else None  # = item.tools; `functions` now has BFCL's hints
    messages: list[dict] = []
    turns: list[list[dict]] = []
    terminated = None  # set when BFCL's step limit stops the episode: why, in which turn, after how many steps
    with ApiSession(entry) as apis:
        for turn_index, question in enumerate(entry["question"]):
            held_back = entry["missed_function"].get(str(turn_index))
            if turn_index == 0:
                question = list(item.messages)
            elif held_back is not None and style == NATIVE:
                # As BFCL: the held-back docs join the list and the hints are applied to it all again.
                functions.extend(copy.deepcopy(held_back))
                tools = tools_of(functions, category)
                question = [{"role": "user", "content": DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC}]
            elif held_back is not None:
                question = [{"role": "user", "content": DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_PROMPTING.format(functions=held_back)}]
            messages += question
            steps: list[dict] = []
            while True:
                gen = await chat(messages, tools=tools)
                messages.append(assistant_message(gen) if style == NATIVE else {"role": "assistant", "content": gen.answer})
                step = {"answer": gen.answer, "tool_calls": tool_calls_of(gen) or None, "decoded": None}
                steps.append(step)
                try:
                    step["decoded"] = decoded = decode_execute(gen, style)
                except Exception as e:  # BFCL: a reply it cannot decode ends the turn
                    step["decode_error"] = f"{type(e).__name__}: {e}"
                    break
                if not decoded or decoded == [""]:  # BFCL's is_empty_execute_response: the turn is over
                    break
                step["results"] = results = apis.execute(decoded)
                if style == NATIVE:  # one tool message per call
                    ids = [call["id"] for call in tool_calls_of(gen)]
                    messages += [{"role": "tool", "tool_call_id": i, "content": r} for i, r in zip(ids, results)]
                else:  # BFCL's OpenAI prompting handler: all results in one user message
                    content = format_execution_results_prompting({}, results, {"model_responses_decoded": decoded})
                    messages.append({"role": "user", "content": content})
                # BFCL counts executed steps and stops at MAXIMUM_STEP_LIMIT + 1 of them. It drops the
                # rest of the entry, not only this turn: the turns kept are what its runner judges.
                if len(steps) > MAXIMUM_STEP_LIMIT:
                    terminated = {"reason": "step_limit", "turn": turn_index, "steps": len(steps)}
                    break
            turns.append(steps)
            if terminated is not None:
                break
    # The row's `termination`, in the same place and words for every conversation benchmark.
    return Episode(messages=tuple(messages), result={"turns": turns, "terminated": terminated},
                   response=turns[-1][-1]["answer"] if turns and turns[-1] else "",
                   termination=terminated["reason"] if terminated is not None else "completed")
