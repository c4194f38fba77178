// The Conversion module. See Package.swift for what it is for.
