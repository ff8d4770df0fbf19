"""Quality evaluation: related lists, slots, stories and topics against labelled corpora."""
