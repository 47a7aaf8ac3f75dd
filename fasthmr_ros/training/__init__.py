"""Training the HMR network itself (`fasthmr train-hmr`): above `models`, `pipeline` and `samples`,
whose crops and labelled sets it trains on."""
