//! Dependencies with the real uv and real PyPI packages: install with live events, check,
//! upgrade, remove, a failing install that leaves the old venv working, one install at a time,
//! and validation.

use app::model::{Dependency, DependencyCheck, DependencyState, Event};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{error_of, install_outcome, spawn_app, Actor, Api, Backend, TestApp};
use crate::on_both_backends;

async fn check(app: &TestApp, admin: &Actor, id: i64) -> DependencyCheck {
    app.get_as(admin, &format!("/api/scripts/{id}/dependencies/check")).await.json().await.unwrap()
}

fn import_version(app: &TestApp, id: i64, module: &str) -> Option<String> {
    let out = std::process::Command::new(app.venv_python(id))
        .args(["-c", &format!("import {module}; print({module}.__version__)")])
        .output()
        .unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

async fn install_check_upgrade_fail_remove(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let s = app.new_script(&admin, json!({ "name": "Uses six" })).await;
    assert_eq!(app.add_dependency(&admin, s.id, "Six", "==1.16.0").await.status(), 201);
    assert_eq!(app.add_dependency(&admin, s.id, "idna", "").await.status(), 201);
    let again = app.add_dependency(&admin, s.id, "six", "").await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_of(again).await.field.as_deref(), Some("name"));
    assert!(!check(&app, &admin, s.id).await.environment);

    let mut socket = app.connect(&admin, &format!("/ws/scripts/{}", s.id)).await;
    let seen = app.install(&admin, &mut socket, s.id).await;
    assert!(matches!(seen.first(), Some(Event::InstallationStarted { script_id, .. }) if *script_id == s.id), "{seen:?}");
    assert!(
        seen.iter().any(|e| matches!(e, Event::InstallationProgress { message, .. } if message.contains("six"))),
        "uv's lines arrive: {seen:?}"
    );
    let Some(Event::InstallationFinished { installed, .. }) = seen.last() else { panic!("finished: {seen:?}") };
    assert!(installed.iter().any(|p| p.name == "six" && p.version == "1.16.0"), "{installed:?}");
    assert_eq!(import_version(&app, s.id, "six").as_deref(), Some("1.16.0"));

    let state = check(&app, &admin, s.id).await;
    assert!(state.environment && state.satisfied, "{state:?}");
    let listed: Vec<Dependency> = app.get_as(&admin, &format!("/api/scripts/{}/dependencies", s.id)).await.json().await.unwrap();
    assert!(listed.iter().all(|d| d.state == DependencyState::Installed && d.installed_version.is_some()), "{listed:?}");

    // Upgrade: the change makes it unsatisfied until installed.
    let response = app
        .request(Method::PUT, &format!("/api/scripts/{}/dependencies/six", s.id), Some(&admin))
        .json(&json!({"version_spec": "==1.17.0"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Dependency>().await.unwrap().state, DependencyState::Unsatisfied);
    assert!(!check(&app, &admin, s.id).await.satisfied);
    let seen = app.install(&admin, &mut socket, s.id).await;
    assert!(matches!(seen.last(), Some(Event::InstallationFinished { .. })), "{seen:?}");
    assert_eq!(import_version(&app, s.id, "six").as_deref(), Some("1.17.0"));

    // One install at a time.
    let install = format!("/api/scripts/{}/dependencies/install", s.id);
    let first = app.post(&admin, &install).await;
    let second = app.post(&admin, &install).await;
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (202, 409));
    install_outcome(&mut socket).await;

    // A package that does not exist: uv's message names it, and the old venv still works.
    assert_eq!(app.add_dependency(&admin, s.id, "pytask-no-such-package-xyz", "").await.status(), 201);
    let seen = app.install(&admin, &mut socket, s.id).await;
    let Some(Event::InstallationError { error, .. }) = seen.last() else { panic!("an error: {seen:?}") };
    assert!(error.contains("pytask-no-such-package-xyz"), "{error}");
    assert_eq!(import_version(&app, s.id, "six").as_deref(), Some("1.17.0"), "the previous venv is intact");
    let gone = app
        .request(Method::DELETE, &format!("/api/scripts/{}/dependencies/pytask-no-such-package-xyz", s.id), Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);

    // Remove uninstalls.
    let gone = app.request(Method::DELETE, &format!("/api/scripts/{}/dependencies/six", s.id), Some(&admin)).send().await.unwrap();
    assert_eq!(gone.status(), 204);
    assert_eq!(import_version(&app, s.id, "six"), None, "six is uninstalled");
    let state = check(&app, &admin, s.id).await;
    assert!(state.installed.iter().all(|p| p.name != "six") && state.satisfied, "{state:?}");

    // Deleting the script removes its venv.
    let venv = app.venv_python(s.id);
    assert!(venv.exists());
    assert_eq!(app.request(Method::DELETE, &format!("/api/scripts/{}", s.id), Some(&admin)).send().await.unwrap().status(), 204);
    assert!(!venv.exists());
}

async fn refuses_what_is_not_a_plain_requirement(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let s = app.new_script(&admin, json!({ "name": "Strict" })).await;
    for (name, spec, field) in [
        ("", "", "name"),
        ("--index-url", "", "name"),
        ("-r", "", "name"),
        ("six; rm -rf /", "", "name"),
        ("../../etc", "", "name"),
        ("https://evil.example/x.whl", "", "name"),
        ("six[socks]", "", "name"),
        ("six", ">=1; python_version>'3'", "version_spec"),
        ("six", "banana", "version_spec"),
        ("six", "$(reboot)", "version_spec"),
    ] {
        let response = app.add_dependency(&admin, s.id, name, spec).await;
        assert_eq!(response.status(), 422, "{name} {spec}");
        assert_eq!(error_of(response).await.field.as_deref(), Some(field), "{name} {spec}");
    }
    let wrong = app
        .request(Method::POST, &format!("/api/scripts/{}/dependencies", s.id), Some(&admin))
        .json(&json!({"name": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let listed: Vec<Dependency> = app.get_as(&admin, &format!("/api/scripts/{}/dependencies", s.id)).await.json().await.unwrap();
    assert!(listed.is_empty(), "nothing was stored");

    let ok = app
        .request(Method::POST, "/api/requirements/check", Some(&admin))
        .json(&json!({"name": "Typing_Extensions", "version_spec": "4.12.2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<serde_json::Value>().await.unwrap(), json!({"name": "typing-extensions", "version_spec": "==4.12.2"}));
    assert_eq!(app.add_dependency(&admin, 99999, "six", "").await.status(), 404);
    let viewer = app.add_user(&admin, "vic", app::model::Role::Viewer).await;
    assert_eq!(app.add_dependency(&viewer, s.id, "six", "").await.status(), 403);
    let install = app.post(&viewer, &format!("/api/scripts/{}/dependencies/install", s.id)).await;
    assert_eq!(install.status(), 403);
}

/// A check that asks uv about the venv while an install swaps a new one in answers about the
/// one or the other, never with an error (between the swap's two renames there is no venv).
async fn check_answers_while_the_venv_is_remade(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let s = app.new_script(&admin, json!({ "name": "Remade" })).await;
    let mut socket = app.connect(&admin, &format!("/ws/scripts/{}", s.id)).await;
    assert!(matches!(app.install(&admin, &mut socket, s.id).await.last(), Some(Event::InstallationFinished { .. })));
    let path = format!("/api/scripts/{}/dependencies/check", s.id);
    let remaking = async {
        for _ in 0..4 {
            let seen = app.install(&admin, &mut socket, s.id).await;
            assert!(matches!(seen.last(), Some(Event::InstallationFinished { .. })), "{seen:?}");
        }
    };
    let checking = async {
        let mut answered = 0;
        loop {
            let response = app.get_as(&admin, &path).await;
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
            let state: DependencyCheck = response.json().await.unwrap();
            assert!(state.environment && state.satisfied, "{state:?}");
            answered += 1;
            tokio::task::yield_now().await;
            if answered >= 1000 {
                return answered;
            }
        }
    };
    tokio::select! {
        () = remaking => {}
        answered = checking => panic!("4 installs outlasted {answered} checks"),
    }
}

on_both_backends!(install_check_upgrade_fail_remove, refuses_what_is_not_a_plain_requirement, check_answers_while_the_venv_is_remade);
