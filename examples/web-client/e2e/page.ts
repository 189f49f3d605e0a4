// The page the browser test opens from another origin: it logs a head and a clerk in, pages the
// head's inbox, subscribes to it, registers an application as the clerk and waits for the
// subscription event. It reports into the DOM for the test to read.
import { makeClient } from '../src/client';
import { Inbox, Login, RegisterApplication } from '../src/documents';
import { graphql } from '../src/gql';

const MailboxChanged = graphql(`
  subscription HeadMailbox {
    mailboxChanged(mailbox: HEAD) {
      change
      total
      position
      case {
        number
      }
    }
  }
`);

const params = new URLSearchParams(window.location.search);
const origin = params.get('api') ?? '';
const password = params.get('password') ?? '';
const steps: string[] = [];

function report(done: boolean, error?: string) {
  document.body.dataset['steps'] = JSON.stringify(steps);
  if (error !== undefined) document.body.dataset['error'] = error;
  if (done) document.body.dataset['done'] = 'yes';
  const log = document.getElementById('log');
  if (log) log.textContent = steps.join('\n') + (error ? `\nERROR: ${error}` : '');
}

async function signIn(username: string) {
  let token: string | undefined;
  const api = makeClient({ origin, token: () => token });
  const r = await api.client.mutation(Login, { username, password }).toPromise();
  if (!r.data) throw new Error(`login ${username}: ${r.error?.message}`);
  token = r.data.login.accessToken;
  steps.push(`login ${username}`);
  return api;
}

async function run() {
  const head = await signIn('mangystau-head');
  const page = await head.client.query(Inbox, { mailbox: 'HEAD', first: 5, sort: 'REGISTERED_NEWEST' }).toPromise();
  if (!page.data) throw new Error(`inbox: ${page.error?.message}`);
  steps.push(`inbox ${page.data.inbox.totalCount}`);
  const event = new Promise<string>((resolve) => {
    head.client.subscription(MailboxChanged, {}).subscribe((r) => {
      if (r.data) resolve(`${r.data.mailboxChanged.change} ${r.data.mailboxChanged.case.number}`);
    });
  });
  await new Promise((r) => setTimeout(r, 500));
  const clerk = await signIn('mangystau-clerk');
  const made = await clerk.client
    .mutation(RegisterApplication, {
      input: {
        regulation: 'mangystau-secondary-education-duplicates',
        applicant: { iin: '901122600340', fullName: 'Ерлан Болатұлы Жақсыбеков' },
        documents: [{ name: 'application' }, { name: 'identity document' }],
      },
    })
    .toPromise();
  if (!made.data) throw new Error(`register: ${made.error?.message}`);
  steps.push(`registered ${made.data.registerApplication.number}`);
  const seen = await Promise.race([
    event,
    new Promise<string>((_, fail) => setTimeout(() => fail(new Error('no event within 10 s')), 10_000)),
  ]);
  steps.push(`event ${seen}`);
  head.sockets.dispose();
  clerk.sockets.dispose();
}

run().then(
  () => report(true),
  (e: unknown) => report(true, e instanceof Error ? e.message : String(e)),
);
