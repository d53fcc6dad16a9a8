//! The local stack's command line: `run` brings the whole system up on 127.0.0.1; `provision` creates
//! the emulator's resources; `token TENANT` prints a bearer token for a tenant.

use cg_lambda::App;
use cg_local::{auth, demo, dev_server, provision, template};
use std::time::Duration;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("token") => {
            let tenant = args.get(1).ok_or("usage: cg-local token TENANT")?;
            println!("{}", auth::issue(&auth::secret(), tenant, 12 * 3600));
            Ok(())
        }
        Some("provision") => {
            let config = provision::provision(
                &provision::local_sdk_config().await,
                &template::load(&template::default_path())?,
            )
            .await?;
            println!(
                "TABLE_NAME={}\nBUCKET_NAME={}\nGROUP_JOBS_QUEUE_URL={}",
                config.table_name, config.bucket_name, config.group_jobs_queue_url
            );
            println!("EXPORT_JOBS_QUEUE_URL={}", config.export_jobs_queue_url);
            println!("BULK_JOBS_QUEUE_URL={}", config.bulk_jobs_queue_url);
            Ok(())
        }
        Some("run") => {
            cg_lambda::init_tracing();
            let port: u16 = arg(&args, "--port").as_deref().unwrap_or("8080").parse()?;
            let tick: u64 = arg(&args, "--tick-seconds").as_deref().unwrap_or("300").parse()?;
            let sdk = provision::local_sdk_config().await;
            let mut config = provision::provision(&sdk, &template::load(&template::default_path())?).await?;
            // The local-mode allowance (issue 16): webhooks may go to http://127.0.0.1 receivers here.
            config.destinations.allow_local = true;
            // --no-outbound: webhooks and provider calls never leave the machine (the test command's
            // schemathesis run creates endpoints with made-up public URLs).
            config.destinations.no_outbound = args.iter().any(|a| a == "--no-outbound");
            if let Ok(url) = std::env::var("SMARTEMAILING_BASE_URL") {
                // Point the SmartEmailing client at a sandbox or a fake (template.yaml's parameter in AWS).
                config.destinations.smartemailing_base_url = url;
            }
            let app = App::new(&config).await;
            if let Some(days) = arg(&args, "--clock-offset-days") {
                // Starts the local clock ahead (see POST /_dev/clock).
                app.store.clock.advance(chrono::Duration::days(days.parse()?));
            }
            if !args.iter().any(|a| a == "--no-demo") {
                demo::seed(&app).await.map_err(|e| format!("demo data: {e:?}"))?;
            }
            let app_now = app.now();
            let secret = auth::secret();
            let (addr, tasks) = dev_server::start(
                app,
                secret.clone(),
                ([127, 0, 0, 1], port).into(),
                Duration::from_secs(tick),
            )
            .await?;
            println!("customer groups API on http://{addr}");
            println!("demo tenant {:?}; bearer token (12 h):", demo::DEMO_TENANT);
            let token = auth::issue(&secret, demo::DEMO_TENANT, 12 * 3600);
            println!("export CG_TOKEN={token}");
            // The fragment never reaches the server; the console moves it into sessionStorage.
            println!("admin console (demo tenant): http://{addr}/console#token={token}");
            println!(
                "workers poll the group-jobs and export-jobs queues; the scheduler ticks every {tick} s. Ctrl-C stops."
            );
            println!(
                "local clock: {} (move it forward: curl -X POST http://{addr}/_dev/clock -H \"Authorization: Bearer $CG_TOKEN\" -d '{{\"days\":7}}')",
                app_now
            );
            tokio::signal::ctrl_c().await?;
            for t in tasks {
                t.abort();
            }
            println!("stopped");
            Ok(())
        }
        _ => {
            Err("usage: cg-local run [--port 8080] [--tick-seconds 300] [--clock-offset-days N] [--no-demo] [--no-outbound] | provision | token TENANT".into())
        }
    }
}
