"""The one door: every read and write of a resource, with its AccessContext and audit."""
