"""Policies are data, rule kinds are code: the policy schema, its loader, the rule-kind registry, the checker."""
