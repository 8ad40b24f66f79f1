//! The `conv` workloads of `convsim bench`.

use super::Workload;

pub(super) fn workloads() -> Vec<Workload> {
    Vec::new()
}
