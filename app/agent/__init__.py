"""The model adapter: the pydantic-ai loop over a toolbox protocol it defines, yielding turn events.

It knows no Slack and no storage: the assistant service (app/services) gives it the thread's history as bytes,
a `ToolBox` over `ToolService`, and renders the `TurnEvent`s it yields.
"""
