"""Staff accounts, sign-in, roles and the audit trail (clinic staff, 2-1-1 agents, state admins)."""
