//! `pytask user add|list|passwd|token`: user management from the shell, through the same
//! services as the API, so the same rules hold (valid names, Argon2id, never the last admin).
//! `pytask secrets rotate-key`: the variables and secrets re-encrypted with a new key.

use std::io::{BufRead, IsTerminal};

use app::model::{NewToken, NewUser, UserUpdate};

use crate::auth::{tokens, users, AuthError};
use crate::config::{Config, SecretsCommand, UserCommand};
use crate::env::{self, SecretKey};
use crate::{db, private, StartError};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("there is no user named `{0}`")]
    NoSuchUser(String),
    #[error("cannot read the password: {0}")]
    Read(std::io::Error),
    #[error(transparent)]
    Key(#[from] env::crypto::KeyError),
    #[error(transparent)]
    Env(#[from] env::EnvError),
}

pub async fn run(config: Config, action: UserCommand) -> Result<(), CliError> {
    // Made private like `serve` makes it, but an open one is not warned about here: the log
    // goes to stdout, which carries a new token's secret to whoever runs `pytask user token`.
    private::create_dir(&config.data_dir).map_err(|source| StartError::DataDir { path: config.data_dir.clone(), source })?;
    let db = db::connect(&config.database()).await.map_err(StartError::from)?;
    match action {
        UserCommand::Add { username, role } => {
            let password = read_password()?;
            let user = users::create(&db, NewUser { username, password, role }).await?;
            println!("added {} ({})", user.username, user.role);
        }
        UserCommand::List => {
            println!("{:<6} {:<32} {:<8} {:<8} created", "id", "username", "role", "active");
            for user in users::list(&db).await? {
                println!(
                    "{:<6} {:<32} {:<8} {:<8} {}",
                    user.id,
                    user.username,
                    user.role,
                    if user.is_active { "yes" } else { "no" },
                    user.created_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        UserCommand::Passwd { username } => {
            let user = users::find_by_name(&db, &username).await?.ok_or(CliError::NoSuchUser(username))?;
            let password = read_password()?;
            users::update(&db, user.id, UserUpdate { password: Some(password), ..Default::default() }).await?;
            println!("password changed for {}; their sessions have ended", user.username);
        }
        UserCommand::Token { username, name, days } => {
            let user = users::find_by_name(&db, &username).await?.ok_or(CliError::NoSuchUser(username))?;
            let created = tokens::create(&db, user.id, NewToken { name, expires_in_days: days }).await?;
            eprintln!("token `{}` for {} (shown once; send as `Authorization: Bearer <token>`):", created.token.name, user.username);
            println!("{}", created.secret);
        }
    }
    Ok(())
}

pub async fn secrets(config: Config, action: SecretsCommand) -> Result<(), CliError> {
    let SecretsCommand::RotateKey { new_key_file } = action;
    private::create_dir(&config.data_dir).map_err(|source| StartError::DataDir { path: config.data_dir.clone(), source })?;
    let db = db::connect(&config.database()).await.map_err(StartError::from)?;
    let old = SecretKey::load_or_generate(config.secret_key_file.as_deref(), &config.data_dir)?;
    let new = SecretKey::load(&new_key_file)?;
    let count = env::store::rotate(&db, &old, &new).await?;
    eprintln!("{count} values re-encrypted with {} (the key check included)", new_key_file.display());
    if config.secret_key_file.is_some() {
        eprintln!("start every instance with PYTASK_SECRET_KEY_FILE={}; the old key opens nothing now", new_key_file.display());
        return Ok(());
    }
    // The generated key in the data directory is where the instances look: it becomes the new
    // one (written aside, then renamed over it, so it is never half written).
    let generated = config.data_dir.join(env::crypto::GENERATED);
    let aside = config.data_dir.join(format!(".{}.new", env::crypto::GENERATED));
    let replace = || -> std::io::Result<()> {
        let _ = std::fs::remove_file(&aside);
        std::fs::copy(&new_key_file, &aside)?;
        std::fs::set_permissions(&aside, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        std::fs::rename(&aside, &generated)
    };
    replace().map_err(|source| env::crypto::KeyError::Write { path: generated.clone(), source })?;
    eprintln!("{} now holds the new key; start the instances again", generated.display());
    Ok(())
}

fn read_password() -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(CliError::Read)?;
        let again = rpassword::prompt_password("Again: ").map_err(CliError::Read)?;
        if first != again {
            return Err(CliError::Read(std::io::Error::other("the two passwords differ")));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(CliError::Read)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
