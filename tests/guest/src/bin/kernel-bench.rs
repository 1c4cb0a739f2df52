//! Benchmarks, run as the root program under `-icount shift=0`, where the time-stamp counter
//! counts guest instructions. One line per benchmark:
//! `bench <name> median=<n> max=<n> min=<n> iterations=<n>`, instructions per operation with
//! the cost of reading the counter subtracted.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use runtime::arch::counter::time_stamp;
use runtime::println;

const ITERATIONS: usize = 10_000;

/// Runs `operation` `ITERATIONS` times, timing each run; returns the sorted samples.
fn sample(samples: &mut [u64; ITERATIONS], mut operation: impl FnMut()) {
    for slot in samples.iter_mut() {
        let start = time_stamp();
        operation();
        *slot = time_stamp() - start;
    }
    samples.sort_unstable();
}

fn report(name: &str, samples: &[u64; ITERATIONS], overhead: u64) {
    let cost = |value: u64| value.saturating_sub(overhead);
    println!(
        "bench {name} median={} max={} min={} iterations={}",
        cost(samples[ITERATIONS / 2]),
        cost(samples[ITERATIONS - 1]),
        cost(samples[0]),
        ITERATIONS
    );
}

fn main(_: &str) -> i32 {
    let mut samples = [0u64; ITERATIONS];
    sample(&mut samples, || {});
    let overhead = samples[ITERATIONS / 2];
    println!("bench-note counter overhead {overhead} instructions (subtracted)");
    sample(&mut samples, || {
        let _ = runtime::syscall::null();
    });
    report("null_call", &samples, overhead);
    0
}

runtime::main!(main);
