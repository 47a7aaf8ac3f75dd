"""Mask-ToMe token merging: the merge step, schedules, merged block forward and person masks."""
