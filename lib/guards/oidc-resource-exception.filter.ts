import { Catch, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import { OidcResourceError } from '../errors/oidc-resource.error.js';
import { toHttpError } from '../errors/www-authenticate.js';
import { answerLogFor } from '../utils/failure-log.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';

/**
 * Answers an {@link OidcResourceError} thrown from a controller (from `UserInfoService`, say)
 * exactly as the guard would: RFC 6750 status, challenge and body, on Express and Fastify,
 * with the same log line.
 */
@Catch(OidcResourceError)
export class OidcResourceExceptionFilter implements ExceptionFilter<OidcResourceError> {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
  ) {}

  catch(error: OidcResourceError, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw error;
    const adapter = this.adapterHost.httpAdapter;
    const response = host.switchToHttp().getResponse<unknown>();
    const http = toHttpError(error, this.options.challenge);
    // The one place (besides the guard) where such an error is answered, so it is logged here.
    answerLogFor(this.options).answered(error, http.status);
    for (const name in http.headers) adapter.setHeader(response, name, http.headers[name]!);
    adapter.reply(response, http.body, http.status);
  }
}
