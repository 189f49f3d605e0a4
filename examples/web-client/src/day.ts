// A clerk's, a head's and an applicant's day against a running server, in Node.js:
//   QYZMET_URL=http://127.0.0.1:8080 QYZMET_DEMO_PASSWORD=… npm run day
// (the server started with `qyzmet serve --dev --demo`). Exits non-zero on the first surprise.
import WebSocket from 'ws';

import type { OperationResult } from '@urql/core';
import { print } from 'graphql';

import { makeClient, errorCode } from './client';
import type { AttachFileMutation, InboxQuery } from './gql/graphql';
import {
  ApplicantLogin,
  AssignExecutor,
  AttachFile,
  CaseFiles,
  CaseUpdated,
  Executors,
  Inbox,
  Login,
  Me,
  MyApplications,
  RegisterApplication,
} from './documents';

const origin = process.env['QYZMET_URL'] ?? 'http://127.0.0.1:8080';
const password = process.env['QYZMET_DEMO_PASSWORD'] ?? '';
const applicantIin = '850305400120';

function check(cond: unknown, what: string): asserts cond {
  if (!cond) {
    throw new Error(`failed: ${what}`);
  }
  console.log(`ok: ${what}`);
}

async function signIn(username: string) {
  let token: string | undefined;
  const api = makeClient({ origin, token: () => token, webSocketImpl: WebSocket });
  const r = await api.client.mutation(Login, { username, password }).toPromise();
  check(r.data?.login.accessToken, `${username} logs in (${errorCode(r.error) ?? 'ok'})`);
  token = r.data.login.accessToken;
  return Object.assign(api, { bearer: () => token ?? '' });
}

const clerk = await signIn('mangystau-clerk');
const me = await clerk.client.query(Me, {}).toPromise();
check(me.data?.me.role === 'OFFICE_CLERK', `the clerk is ${me.data?.me.displayName}`);

const registered = await clerk.client
  .mutation(RegisterApplication, {
    input: {
      regulation: 'mangystau-secondary-education-duplicates',
      applicant: { iin: applicantIin, fullName: 'Айгерим Нұрланқызы Серікова', phone: '+7 701 000 0000' },
      documents: [{ name: 'application' }, { name: 'identity document' }],
      idempotencyKey: `web-client-day-${Date.now()}`,
    },
  })
  .toPromise();
const created = registered.data?.registerApplication;
check(created && created.receipt?.number === created.number, `registered ${created?.number} with a receipt`);

// The clerk attaches the scanned application: a GraphQL multipart request (fetch + FormData;
// the spec is github.com/jaydenseric/graphql-multipart-request-spec).
const scan = new Blob(['%PDF-1.7\n% the scanned application\n'], { type: 'application/pdf' });
const form = new FormData();
form.append('operations', JSON.stringify({ query: print(AttachFile), variables: { caseId: created.id, file: null } }));
form.append('map', JSON.stringify({ 0: ['variables.file'] }));
form.append('0', scan, 'өтініш.pdf');
const upload = await fetch(`${origin}/graphql`, {
  method: 'POST',
  headers: { authorization: `Bearer ${clerk.bearer()}` },
  body: form,
});
const uploaded = (await upload.json()) as { data?: AttachFileMutation };
const file = uploaded.data?.attachFile;
check(file?.kind === 'PDF' && file.size === scan.size, `attached ${file?.name} (${file?.size} bytes, sha256 ${file?.sha256.slice(0, 12)}…)`);

// The applicant follows their case live.
let applicantToken: string | undefined;
const applicant = makeClient({ origin, token: () => applicantToken, webSocketImpl: WebSocket });
const login = await applicant.client.mutation(ApplicantLogin, { iin: applicantIin, password }).toPromise();
applicantToken = login.data?.applicantLogin.accessToken;
check(applicantToken, 'the applicant logs in');
const mine = await applicant.client.query(MyApplications, {}).toPromise();
const own = mine.data?.myApplications.nodes.find((c) => c.number === created.number);
check(own, 'the applicant sees the application among their own');
// …and downloads the scan the clerk attached, through its short-lived link.
const files = await applicant.client.query(CaseFiles, { id: created.id }).toPromise();
const link = files.data?.case.files[0]?.download.url;
check(link, 'the applicant sees the attached scan with a download link');
const downloaded = await fetch(`${origin}${link}`);
check(downloaded.ok && (await downloaded.arrayBuffer()).byteLength === scan.size, 'the applicant downloads the same bytes');
const updates: number[] = [];
const moved = new Promise<void>((resolve) => {
  applicant.client
    .subscription(CaseUpdated, { caseId: own.id, afterVersion: own.version })
    .subscribe((r) => {
      if (r.data) {
        updates.push(r.data.caseUpdated.version);
        resolve();
      }
    });
});
await new Promise((r) => setTimeout(r, 300));

// The head pages their inbox (stage tab, soonest due first), picks an executor, assigns.
const head = await signIn('mangystau-head');
let after: string | null = null;
let found: { id: string; version: number } | undefined;
let pages = 0;
for (;;) {
  const page: OperationResult<InboxQuery> = await head.client
    .query(Inbox, { mailbox: 'HEAD', filter: { stages: ['RESOLUTION'] }, sort: 'DUE_SOONEST', first: 20, after })
    .toPromise();
  const inbox = page.data?.inbox;
  check(inbox, `inbox page ${++pages} (${inbox?.totalCount} to assign, ${inbox?.dueTodayCount} due today)`);
  found = inbox.nodes.find((n) => n.number === created.number) ?? found;
  if (!inbox.hasNextPage || found) break;
  after = inbox.endCursor ?? null;
}
check(found, 'the head finds the new case in the inbox');
const executors = await head.client.query(Executors, {}).toPromise();
const executor = executors.data?.colleagues[0];
check(executor, `an executor to assign: ${executor?.displayName} (${executor?.openAssigned} open)`);
const assigned = await head.client
  .mutation(AssignExecutor, { caseId: found.id, version: found.version, executor: executor.username })
  .toPromise();
check(assigned.data?.assignExecutor.stage === 'PREPARE', `assigned to ${assigned.data?.assignExecutor.assigneeName}`);

await Promise.race([moved, new Promise((_, fail) => setTimeout(() => fail(new Error('no live update within 10 s')), 10_000))]);
check(updates[0] === assigned.data.assignExecutor.version, `the applicant saw version ${updates[0]} live`);

// A wrong version is a typed conflict, not a crash.
const stale = await head.client
  .mutation(AssignExecutor, { caseId: found.id, version: found.version, executor: executor.username })
  .toPromise();
check(errorCode(stale.error) === 'CONFLICT' || errorCode(stale.error) === 'NOT_ALLOWED_NOW' || errorCode(stale.error) === 'FORBIDDEN', `a stale move is refused with ${errorCode(stale.error)}`);

await applicant.sockets.dispose();
await clerk.sockets.dispose();
await head.sockets.dispose();
console.log('the day is done');
