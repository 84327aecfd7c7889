//! The two workloads as the lesson times them: every variant, checked and explained.

pub mod distances;
pub mod julia;
