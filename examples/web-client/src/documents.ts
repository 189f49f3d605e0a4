// The operations a clerk's, a head's and an applicant's screens run, as typed documents.
import { graphql } from './gql';

export const Login = graphql(`
  mutation Login($username: String!, $password: String!) {
    login(username: $username, password: $password) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      role
    }
  }
`);

export const ApplicantLogin = graphql(`
  mutation ApplicantLogin($iin: String!, $password: String!) {
    applicantLogin(iin: $iin, password: $password) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      role
    }
  }
`);

export const Refresh = graphql(`
  mutation Refresh($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      role
    }
  }
`);

export const Me = graphql(`
  query Me {
    me {
      displayName
      role
      organisation
      region
      mailboxes
    }
  }
`);

export const RegisterApplication = graphql(`
  mutation RegisterApplication($input: ApplicationInput!) {
    registerApplication(input: $input) {
      id
      number
      version
      stage
      receipt {
        number
        legalResultDate
        documents
      }
    }
  }
`);

export const Inbox = graphql(`
  query Inbox($mailbox: Mailbox!, $filter: InboxFilter, $sort: InboxSort, $first: Int, $after: String) {
    inbox(mailbox: $mailbox, filter: $filter, sort: $sort, first: $first, after: $after) {
      totalCount
      overdueCount
      dueTodayCount
      stageCounts {
        stage
        count
      }
      nodes {
        id
        number
        version
        stage
        stepDueAt
        overdue
      }
      endCursor
      hasNextPage
    }
  }
`);

export const Executors = graphql(`
  query Executors {
    colleagues(role: EXECUTOR) {
      username
      displayName
      openAssigned
    }
  }
`);

export const AssignExecutor = graphql(`
  mutation AssignExecutor($caseId: ID!, $version: Int!, $executor: String!) {
    assignExecutor(caseId: $caseId, version: $version, executor: $executor) {
      id
      version
      stage
      assigneeName
    }
  }
`);

export const MyApplications = graphql(`
  query MyApplications {
    myApplications(first: 20) {
      nodes {
        id
        number
        version
        progress
      }
    }
  }
`);

export const CaseUpdated = graphql(`
  subscription CaseUpdated($caseId: ID!, $afterVersion: Int) {
    caseUpdated(caseId: $caseId, afterVersion: $afterVersion) {
      id
      number
      version
      progress
    }
  }
`);

// Sent as a GraphQL multipart request (see day.ts): the file travels as the `file` variable.
export const AttachFile = graphql(`
  mutation AttachFile($caseId: ID!, $file: Upload!) {
    attachFile(caseId: $caseId, file: $file) {
      id
      name
      kind
      size
      sha256
    }
  }
`);

export const CaseFiles = graphql(`
  query CaseFiles($id: ID!) {
    case(id: $id) {
      files {
        id
        name
        size
        sha256
        download {
          url
        }
      }
    }
  }
`);
