"""The operator's decisions: from a resource's spec and the observed computer to what to do."""
