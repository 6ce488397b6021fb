"""The nianbao agent graph.

    START → understand ─┬→ sql_lookup ─┐
                        ├→ segment_lookup ┤   (a company's own business segment)
                        ├→ statistic  ─┤
                        ├→ formula    ─┼→ answer → END
                        ├→ retrieve   ─┤
                        ├→ glossary   ─┘
                        ├→ answer (refusals, chit-chat)
                        ├→ compound → END            (compound question, embedded mode)
                        └→ agent ⇄ tools → END       (compound question, tool-calling answer model;
                             └→ compound → END        falls back to the deterministic split)

``graph`` is compiled without a checkpointer for LangGraph Studio / ``langgraph dev`` (the server
brings its own); the CLI and the API compile ``builder`` with a persistent checkpointer.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode

from graph import compound_nodes, nodes
from graph.agent_tools import AGENT_TOOLS
from graph.routing import SEGMENT_NODE, TOOL_FOR_INTENT, route_after_agent, route_after_understand
from graph.state import AgentState, InputState, OutputState


def build_graph() -> StateGraph:
    builder = StateGraph(AgentState, input_schema=InputState, output_schema=OutputState)
    builder.add_node("understand", nodes.understand)
    tool_nodes = sorted(set(TOOL_FOR_INTENT.values()) | {SEGMENT_NODE})
    for name in tool_nodes:
        builder.add_node(name, getattr(nodes, name))
        builder.add_edge(name, "answer")
    builder.add_node("answer", nodes.answer)
    builder.add_node("compound", compound_nodes.compound)
    builder.add_node("agent", compound_nodes.agent)
    builder.add_node("tools", ToolNode(AGENT_TOOLS, messages_key="llm_messages"))

    builder.add_edge(START, "understand")
    builder.add_conditional_edges("understand", route_after_understand, [*tool_nodes, "answer", "compound", "agent"])
    builder.add_conditional_edges("agent", route_after_agent, {"tools": "tools", "compound": "compound", "__end__": END})
    builder.add_edge("tools", "agent")
    builder.add_edge("answer", END)
    builder.add_edge("compound", END)
    return builder


builder = build_graph()
graph = builder.compile()
graph.name = "nianbao"
