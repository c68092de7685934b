import { signV2, signedHeaders } from '../../providers/ncp-sts/signature';

describe('NCP signature v2', () => {
  // PROVIDERS.md: computed independently from the definition in two languages.
  it.each([
    {
      method: 'GET',
      uri: '/api/v1/caller-identity',
      accessKey: 'ncp_iam_EXAMPLEACCESSKEY',
      secretKey: 'ncp_iam_EXAMPLESECRETKEY',
      expected: 'PPv4h5LeTUa9IcCPunRHAIAywLC84ths9IDFYnkejGo=',
    },
    {
      method: 'POST',
      uri: '/api/v1/credentials',
      accessKey: 'ncp_iam_EXAMPLEACCESSKEY',
      secretKey: 'ncp_iam_EXAMPLESECRETKEY',
      expected: 'pzC53VRBF24CJRHdPUP1zUC7x4gOEo+ouVr9jkPxMUI=',
    },
    {
      method: 'GET',
      uri: '/photos/puppy.jpg?query1=&query2',
      accessKey: 'ACCESS_KEY_ID',
      secretKey: 'ncp-secret-example',
      expected: 'iPe1hFfjl7BPGhFZJGCY5XZgH6eWMwCWlSdSkKU+SPE=',
    },
  ])('$method $uri', ({ expected, ...input }) => {
    expect(signV2({ ...input, timestamp: 1700000000000 })).toBe(expected);
    expect(signV2({ ...input, timestamp: '1700000000000' })).toBe(expected);
  });

  it('signs the method upper-cased', () => {
    const input = { uri: '/x', timestamp: 1, accessKey: 'a', secretKey: 's' };
    expect(signV2({ ...input, method: 'get' })).toBe(signV2({ ...input, method: 'GET' }));
  });

  it('builds the four headers with the signed timestamp', () => {
    const headers = signedHeaders({
      method: 'GET',
      uri: '/api/v1/caller-identity',
      timestamp: 1700000000000,
      accessKey: 'ncp_iam_EXAMPLEACCESSKEY',
      secretKey: 'ncp_iam_EXAMPLESECRETKEY',
    });
    expect(headers).toEqual({
      'x-ncp-apigw-timestamp': '1700000000000',
      'x-ncp-iam-access-key': 'ncp_iam_EXAMPLEACCESSKEY',
      'x-ncp-apigw-signature-v2': 'PPv4h5LeTUa9IcCPunRHAIAywLC84ths9IDFYnkejGo=',
      'Content-Type': 'application/json',
    });
  });
});
