//! The test harness: run the real binary, build and locate real plugin libraries.
