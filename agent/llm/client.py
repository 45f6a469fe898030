"""The LLM client: `openai.AsyncOpenAI` against any OpenAI-compatible server (vLLM).

Bounded retries with exponential backoff on connection errors, timeouts and 5xx;
none on 4xx. A per-request timeout. `n` samples in one request. Token usage summed
per call site. Tool calls parsed into typed objects, including the JSON calls small
models write in plain content.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections import defaultdict
from typing import Any

import openai
from pydantic import BaseModel, Field
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from agent.llm.models import DEFAULT_MODEL
from agent.llm.serve import DEFAULT_HOST, DEFAULT_PORT

DEFAULT_BASE_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/v1"
RETRYABLE = (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError)


class LLMError(RuntimeError):
    """The model server refused or failed a request; the message is one sentence."""


class ServerUnavailable(LLMError):
    """No server answers at the configured URL."""


class ClientConfig(BaseModel):
    base_urls: list[str] = Field(default_factory=lambda: _env_urls())
    model: str = Field(default_factory=lambda: os.environ.get("AGENT_MODEL") or DEFAULT_MODEL)
    api_key: str = Field(default_factory=lambda: os.environ.get("OPENAI_API_KEY") or "EMPTY")
    timeout: float = Field(300.0, gt=0, description="seconds per request")
    retries: int = Field(3, ge=0, description="retries after the first attempt")
    backoff: float = Field(0.5, ge=0, description="first wait between attempts, doubled each time")

    @classmethod
    def from_options(cls, base_url: str | None = None, model: str | None = None, **extra: Any) -> "ClientConfig":
        values: dict[str, Any] = dict(extra)
        if base_url:
            values["base_urls"] = [u.strip() for u in base_url.split(",") if u.strip()]
        if model:
            values["model"] = model
        return cls(**values)


def _env_urls() -> list[str]:
    raw = os.environ.get("AGENT_BASE_URL") or DEFAULT_BASE_URL
    return [u.strip() for u in raw.split(",") if u.strip()]


class ToolCall(BaseModel):
    id: str | None = None
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str = ""
    error: str | None = Field(None, description="why the arguments could not be read, if they could not")


class Choice(BaseModel):
    text: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None


class Completion(BaseModel):
    choices: list[Choice]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model: str = ""


class SiteUsage(BaseModel):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


def _parse_arguments(raw: Any) -> tuple[dict[str, Any], str, str | None]:
    if isinstance(raw, dict):
        return raw, json.dumps(raw), None
    text = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        return {}, text, f"arguments are not valid JSON: {exc.msg}"
    if not isinstance(value, dict):
        return {}, text, "arguments are not a JSON object"
    return value, text, None


_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCED = re.compile(r"```(?:json|tool_call)?\s*\n(.*?)```", re.S)


def tool_calls_in_text(text: str, known: set[str] | None = None) -> list[ToolCall]:
    """JSON tool calls written in plain content: in Qwen's <tool_call> tags, in a
    markdown block, or bare, as {"name": ..., "arguments": {...}}."""
    candidates = _TAGGED.findall(text) or _FENCED.findall(text) or [text.strip()]
    calls = []
    for blob in candidates:
        try:
            value = json.loads(blob)
        except ValueError:
            continue
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            if known is not None and item["name"] not in known:
                continue
            arguments, raw, error = _parse_arguments(item.get("arguments", item.get("parameters", {})))
            calls.append(ToolCall(name=item["name"], arguments=arguments, raw_arguments=raw, error=error))
    return calls


class LLMClient:
    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config or ClientConfig()
        self._clients = [
            openai.AsyncOpenAI(base_url=url, api_key=self.config.api_key, timeout=self.config.timeout, max_retries=0)
            for url in self.config.base_urls
        ]
        self._next = itertools.cycle(range(len(self._clients)))
        self.usage: dict[str, SiteUsage] = defaultdict(SiteUsage)

    async def close(self) -> None:
        for client in self._clients:
            await client.close()

    async def _with_retries(self, call):
        index = next(self._next)
        client, url = self._clients[index], self.config.base_urls[index]
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(RETRYABLE),
                stop=stop_after_attempt(self.config.retries + 1),
                wait=wait_exponential(multiplier=self.config.backoff, max=30),
                reraise=True,
            ):
                with attempt:
                    return await call(client)
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            kind = "timed out" if isinstance(exc, openai.APITimeoutError) else "is unreachable"
            raise ServerUnavailable(
                f"the model server at {url} {kind} after {self.config.retries + 1} attempts; "
                "start one with `agent serve` or pass --base-url"
            ) from None
        except openai.APIStatusError as exc:
            detail = _status_detail(exc)
            raise LLMError(f"the model server at {url} answered {exc.status_code}: {detail}") from None

    async def models(self) -> list[str]:
        async def call(client: openai.AsyncOpenAI):
            return [m.id async for m in client.models.list()]

        return await self._with_retries(call)

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        stop: list[str] | None = None,
        seed: int | None = None,
        site: str = "chat",
        extra_body: dict[str, Any] | None = None,
    ) -> Completion:
        request: dict[str, Any] = {
            "model": self.config.model, "messages": messages, "n": n, "temperature": temperature,
            "max_tokens": max_tokens,
        }
        for key, value in (("tools", tools), ("tool_choice", tool_choice), ("stop", stop), ("seed", seed),
                           ("extra_body", extra_body)):
            if value is not None:
                request[key] = value
        started = time.monotonic()
        response = await self._with_retries(lambda client: client.chat.completions.create(**request))
        seconds = time.monotonic() - started
        known = {t["function"]["name"] for t in tools or [] if "function" in t}
        choices = []
        for choice in sorted(response.choices, key=lambda c: c.index):
            message = choice.message
            calls = []
            for raw in message.tool_calls or []:
                arguments, text, error = _parse_arguments(raw.function.arguments)
                calls.append(ToolCall(id=raw.id, name=raw.function.name, arguments=arguments, raw_arguments=text,
                                      error=error))
            if not calls and tools and message.content:
                calls = tool_calls_in_text(message.content, known)
            choices.append(Choice(text=message.content or "", tool_calls=calls, finish_reason=choice.finish_reason))
        usage = response.usage
        completion = Completion(
            choices=choices, seconds=seconds, model=response.model,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        )
        site_usage = self.usage[site]
        site_usage.calls += 1
        site_usage.prompt_tokens += completion.prompt_tokens
        site_usage.completion_tokens += completion.completion_tokens
        site_usage.seconds += seconds
        return completion


def _status_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else body.get("message")
        if message:
            return str(message).split("\n")[0][:300]
    return str(exc.message).split("\n")[0][:300]
