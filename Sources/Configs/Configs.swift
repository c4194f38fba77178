// The Configs module. See Package.swift for what it is for.
