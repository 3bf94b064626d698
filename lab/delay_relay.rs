//! The lab's latency relay: a TCP forwarder that delays every byte by a fixed
//! time in each direction, in order, to model a WAN link on a kernel without
//! netem. Standard library only; `lab/lab up --latency-ms MS` compiles it
//! with rustc and starts one relay process in the lab's network namespace.
//!
//!   delay_relay DELAY_MS LISTEN_ADDR:PORT=TARGET_ADDR:PORT ...
//!
//! Each accepted connection gets a connection to its target; each direction
//! has a reader thread that stamps every chunk with "now + delay" and a writer
//! thread that sends the chunks in order once their time has come. A
//! half-close (EOF) is forwarded after the same delay; an error closes both
//! ends. Nagle is off on both sockets so the delay is the only one added.
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::sync_channel;
use std::thread;
use std::time::{Duration, Instant};

/// Forwards `from` to `to`, each chunk `delay` after it was read.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    // Bounded: a slow receiver stalls the reader, so TCP back-pressure holds.
    let (tx, rx) = sync_channel::<(Instant, Vec<u8>)>(256);
    let from_side = from.try_clone();
    let writer = thread::spawn(move || {
        for (due, data) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if data.is_empty() {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            if to.write_all(&data).is_err() {
                let _ = to.shutdown(Shutdown::Both);
                if let Ok(f) = &from_side {
                    let _ = f.shutdown(Shutdown::Both);
                }
                return;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = tx.send((Instant::now() + delay, Vec::new()));
                break;
            }
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}

fn serve(listener: TcpListener, target: String, delay: Duration) {
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let target = target.clone();
        thread::spawn(move || {
            let Ok(server) = TcpStream::connect(&target) else {
                let _ = client.shutdown(Shutdown::Both);
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                return;
            };
            let up = thread::spawn(move || pipe(client, server, delay));
            pipe(s2, c2, delay);
            let _ = up.join();
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: delay_relay DELAY_MS LISTEN:PORT=TARGET:PORT ...";
    let Some(Ok(ms)) = args.first().map(|a| a.parse::<u64>()) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let delay = Duration::from_millis(ms);
    let mut servers = Vec::new();
    for spec in &args[1..] {
        let Some((listen, target)) = spec.split_once('=') else {
            eprintln!("{usage}");
            std::process::exit(2);
        };
        let listener = match TcpListener::bind(listen) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("delay_relay: cannot listen on {listen}: {e}");
                std::process::exit(1);
            }
        };
        let target = target.to_string();
        servers.push(thread::spawn(move || serve(listener, target, delay)));
    }
    if servers.is_empty() {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    for s in servers {
        let _ = s.join();
    }
}
