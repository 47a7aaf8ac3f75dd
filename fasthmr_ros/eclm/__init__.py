"""ECLM layer merging: merge arithmetic, the greedy error-constrained search, calibration sets and
reports. It sits above `models` and `pipeline` (it runs the model on calibration crops), while
token merging (`fasthmr_ros.merging`) sits below `models`, which runs it inside the backbone."""
