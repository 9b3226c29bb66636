"""The agent graph: planner, coder, critic, qa and approver under a policy guard."""
