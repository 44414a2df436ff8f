"""Audit records (Cumulocity /audit/auditRecords): who changed what, and which logins failed."""
