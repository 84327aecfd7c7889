//! Every topic binary run as a user runs it, one module a topic, all in one test binary: one
//! link instead of fifteen, and the topics' tests share the two cores instead of waiting for
//! each other's file to finish. `cargo test -p tests -- locks::` runs one topic's.

mod common;

mod charts;
mod comprehensions;
mod dataflow;
mod dataflow_hosts;
mod dataflow_module;
mod dataflow_queries;
mod decorators;
mod extension;
mod gil;
mod iterators;
mod lambdas;
mod locks;
mod multiprocessing;
mod notebook;
mod numerics;
mod pools;
mod python_env;
mod reactive;
mod replay_vs_rxpy;
mod threading;
mod twins;
