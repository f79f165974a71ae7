//! Every sandboxed process is forked by one thread that lives as long as the server: a sandbox
//! dies with the thread that started it (`--die-with-parent` is the parent *thread*'s death),
//! and the runtime's blocking threads end when idle.

use std::sync::mpsc::{channel, sync_channel, Sender, SyncSender};
use std::sync::{Mutex, OnceLock, PoisonError};

use tokio::process::{Child, Command};
use tokio::runtime::Handle;

type Job = (Command, Handle, SyncSender<std::io::Result<Child>>);

pub fn spawn(mut command: Command) -> std::io::Result<Child> {
    static LAUNCHER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    let Ok(handle) = Handle::try_current() else { return command.spawn() };
    let sender = LAUNCHER
        .get_or_init(|| {
            let (sender, jobs) = channel::<Job>();
            let started = std::thread::Builder::new().name("pytask-launcher".into()).spawn(move || {
                for (mut command, handle, reply) in jobs {
                    let _runtime = handle.enter();
                    let _ = reply.send(command.spawn());
                }
            });
            if let Err(err) = started {
                tracing::error!(%err, "the launcher thread could not be started");
            }
            Mutex::new(sender)
        })
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let (reply, answer) = sync_channel(1);
    if let Err(job) = sender.send((command, handle, reply)) {
        let (mut command, ..) = job.0;
        return command.spawn();
    }
    answer.recv().unwrap_or_else(|_| Err(std::io::Error::other("the launcher thread is gone")))
}
